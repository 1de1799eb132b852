#!/bin/bash
# User data of ${node.name}: a namespace that does not exist.
echo "ALB=${load_balancers.web.dns_name}" >> /etc/app.env
