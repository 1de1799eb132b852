#!/bin/bash
# User data of ${node.name}: the address of its peer, given through vars.
echo "PEER=${var.peer}" >> /etc/app.env
