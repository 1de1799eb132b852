#!/bin/bash
# User data of ${node.name}: a reference to a load balancer that does not exist.
echo "ALB=${load_balancer.webb.dns_name}" >> /etc/app.env
