#!/bin/bash
# User data of app: its own address, which it does not have before it exists.
echo "SELF=${instance.app.private_ip}" >> /etc/app.env
