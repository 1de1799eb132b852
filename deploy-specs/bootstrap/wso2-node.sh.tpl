#!/bin/bash
# User data of WSO2 node ${node.name} (${var.role}, ${node.index} of ${node.count}) of
# deployment ${deployment.name}, rendered by strato. It installs the Puppet agent, points
# it at the Puppet server's fixed address and asks for a certificate that carries the
# deployment's CSR challenge and the node's role, cluster and index as trusted facts.
# Nodes do not wait for the server: the agent retries until it answers.
set -euo pipefail
exec > >(tee -a /var/log/strato-bootstrap.log) 2>&1

readonly EFS_DNS_NAME='${var.efs_dns_name}'

# API Manager nodes share API definitions and throttling policies over EFS (TLS).
if [ -n "$EFS_DNS_NAME" ]; then
  dnf install -y amazon-efs-utils
  mkdir -p /mnt/apim-shared
  echo "$EFS_DNS_NAME:/ /mnt/apim-shared efs _netdev,tls,noresvport 0 0" >> /etc/fstab
  until mount /mnt/apim-shared; do sleep 10; done
fi

dnf install -y https://yum.puppet.com/puppet8-release-el-9.noarch.rpm
dnf install -y puppet-agent
mkdir -p /etc/puppetlabs/puppet
umask 077
cat > /etc/puppetlabs/puppet/csr_attributes.yaml <<CSR
---
custom_attributes:
  1.2.840.113549.1.9.7: '${deployment.csr_challenge}'
extension_requests:
  pp_role: '${var.role}'
  pp_cluster: '${var.cluster}'
  1.3.6.1.4.1.34380.1.2.1: '${node.index}'
CSR
/opt/puppetlabs/bin/puppet config set --section main server '${instance.puppet.private_ip}'
/opt/puppetlabs/bin/puppet config set --section main certname '${node.name}.${deployment.name}'
/opt/puppetlabs/bin/puppet config set --section agent waitforcert 60
systemctl enable --now puppet
