#!/bin/bash
# User data of ${node.name}: a var the instance does not define.
echo "ROLE=${var.role}" >> /etc/app.env
echo "PORT=${var.port}" >> /etc/app.env
