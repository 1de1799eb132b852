#!/bin/bash
# User data of WSO2 node ${node.name} (${var.role}, node ${node.index} of its group) of
# deployment ${deployment.name}, rendered by strato. It installs the Puppet agent, points
# it at the Puppet server's fixed address and asks for a certificate that carries the
# deployment's CSR challenge and the node's role, cluster and index as trusted facts. The
# challenge is not in this script (user data is readable through the EC2 API and the
# metadata service): the node reads it at boot from SSM Parameter Store with its instance
# role. Nodes do not wait for the server: the agent retries until it answers.
set -euo pipefail
exec > >(tee -a /var/log/strato-bootstrap.log) 2>&1

readonly EFS_DNS_NAME='${var.efs_dns_name}'

# Writes the deployment's CSR challenge into file $1, readable by its owner only, and
# nowhere else: stdout goes to the bootstrap log. The instance role's credentials can take
# some seconds to reach a fresh instance, so this retries for up to five minutes.
fetch_challenge() (
  umask 077
  for attempt in {1..30}; do
    if aws ssm get-parameter --with-decryption --name '${deployment.csr_challenge_parameter}' \
      --region '${deployment.region}' --query Parameter.Value --output text > "$1" && [ -s "$1" ]; then
      return 0
    fi
    echo "the CSR challenge is not readable yet (attempt $attempt of 30)" >&2
    sleep 10
  done
  echo "error: this instance's role cannot read the CSR challenge parameter" >&2
  return 1
)

# API Manager nodes share API definitions and throttling policies over EFS (TLS).
if [ -n "$EFS_DNS_NAME" ]; then
  dnf install -y amazon-efs-utils
  mkdir -p /mnt/apim-shared
  echo "$EFS_DNS_NAME:/ /mnt/apim-shared efs _netdev,tls,noresvport 0 0" >> /etc/fstab
  until mount /mnt/apim-shared; do sleep 10; done
fi

dnf install -y 'https://yum.puppet.com/puppet8-release-${node.os}.noarch.rpm'
dnf install -y puppet-agent
mkdir -p /etc/puppetlabs/puppet
# From here on every file is root's only: the CSR attributes carry the challenge.
umask 077
challenge_file=$(mktemp)
fetch_challenge "$challenge_file"
challenge=$(<"$challenge_file")
rm -f "$challenge_file"
cat > /etc/puppetlabs/puppet/csr_attributes.yaml <<CSR
---
custom_attributes:
  1.2.840.113549.1.9.7: '$challenge'
extension_requests:
  pp_role: '${var.role}'
  pp_cluster: '${var.cluster}'
  1.3.6.1.4.1.34380.1.2.1: '${node.index}'
CSR
unset challenge
/opt/puppetlabs/bin/puppet config set --section main server '${instance.puppet.private_ip}'
/opt/puppetlabs/bin/puppet config set --section main certname '${node.name}.${deployment.name}'
/opt/puppetlabs/bin/puppet config set --section agent waitforcert 60
systemctl enable --now puppet
