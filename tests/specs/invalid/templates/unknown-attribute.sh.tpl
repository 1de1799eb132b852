#!/bin/bash
# User data of ${node.name}: a load balancer attribute that does not exist.
echo "ALB=${load_balancer.web.dns}" >> /etc/app.env
