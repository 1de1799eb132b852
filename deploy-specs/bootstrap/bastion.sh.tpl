#!/bin/bash
# User data of the bastion of deployment ${deployment.name}, rendered by strato:
# an SSH jump host and nothing else.
set -euo pipefail
dnf upgrade -y --security
sed -i 's/^#\?PasswordAuthentication .*/PasswordAuthentication no/' /etc/ssh/sshd_config
sed -i 's/^#\?PermitRootLogin .*/PermitRootLogin no/' /etc/ssh/sshd_config
systemctl reload sshd
