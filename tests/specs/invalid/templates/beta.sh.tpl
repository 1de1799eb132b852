#!/bin/bash
# User data of beta: waits for alpha's address.
echo "PEER=${instance.alpha.private_ip}" >> /etc/app.env
