#!/bin/bash
# User data of worker: its own address, which it does not have before it exists.
echo "SELF=${instance.worker.private_ip}" >> /etc/app.env
