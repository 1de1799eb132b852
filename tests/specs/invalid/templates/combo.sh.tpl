#!/bin/bash
# User data of ${node.name}: an unknown var and an unknown database.
echo "ROLE=${var.role} TIER=${var.tier}" >> /etc/app.env
echo "DB=${database.app-db.endpoint}" >> /etc/app.env
