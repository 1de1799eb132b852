#!/bin/bash
# User data of alpha: waits for beta's address.
echo "PEER=${instance.beta.private_ip}" >> /etc/app.env
