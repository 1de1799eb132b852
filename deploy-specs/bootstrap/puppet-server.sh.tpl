#!/bin/bash
# User data of the Puppet server of deployment ${deployment.name}, rendered by strato.
# It installs Puppet Server, writes the Hiera data the WSO2 modules read (database
# endpoints and the ARNs of their master-user secrets, the EFS file system, the load
# balancers) and turns on CSR-challenge autosigning: an agent is signed only if its CSR
# carries this deployment's challenge. The challenge is not in this script (user data is
# readable through the EC2 API and the metadata service): the server reads it at boot from
# SSM Parameter Store with its instance role.
# strato renders `${...}` references with dots; plain shell `${VAR}` is left alone.
set -euo pipefail
exec > >(tee -a /var/log/strato-bootstrap.log) 2>&1

readonly CODE_DIR=/etc/puppetlabs/code/environments/production
readonly CHALLENGE_FILE=/etc/puppetlabs/puppet/csr_challenge

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

dnf install -y 'https://yum.puppet.com/puppet8-release-${node.os}.noarch.rpm'
dnf install -y puppetserver openssl
/opt/puppetlabs/bin/puppet config set --section main server '${instance.puppet.private_ip}'
# Agents connect to the server's fixed address, so its certificate must carry that address
# as a subject alternative name. `dns_alt_names` takes typed entries (`IP:` or `DNS:`), and
# the names are fixed when the CA signs the server's certificate, so they are set before
# the CA exists (Puppet 8 configuration reference, `dns_alt_names`:
# https://www.puppet.com/docs/puppet/8/configuration.html#dns_alt_names).
/opt/puppetlabs/bin/puppet config set --section main dns_alt_names 'IP:${instance.puppet.private_ip}'
/opt/puppetlabs/bin/puppet config set --section server autosign /etc/puppetlabs/puppet/autosign.sh

# Policy-based autosigning: sign only CSRs whose challengePassword is this deployment's.
install -m 0750 -o puppet -g puppet /dev/null /etc/puppetlabs/puppet/autosign.sh
cat > /etc/puppetlabs/puppet/autosign.sh <<'AUTOSIGN'
#!/bin/bash
# stdin: the PEM CSR of the agent named in $1.
csr=$(cat)
got=$(printf '%s\n' "$csr" | openssl req -noout -text 2>/dev/null \
  | sed -n 's/^ *challengePassword *: *//p' | tr -d '[:space:]')
[ -n "$got" ] && [ "$got" = "$(cat /etc/puppetlabs/puppet/csr_challenge)" ]
AUTOSIGN
fetch_challenge "$CHALLENGE_FILE"
# Puppet Server runs the autosign script as the puppet user: the only other reader.
chown puppet:puppet "$CHALLENGE_FILE"

mkdir -p "$CODE_DIR/data"
cat > "$CODE_DIR/data/common.yaml" <<HIERA
---
wso2::deployment: '${deployment.name}'
wso2::region: '${deployment.region}'
wso2::domain: '${deployment.domain}'
wso2::apim_db_host: '${database.apim-db.endpoint}'
wso2::apim_db_port: ${database.apim-db.port}
wso2::analytics_db_host: '${database.analytics-db.endpoint}'
wso2::analytics_db_port: ${database.analytics-db.port}
wso2::apim_db_secret_arn: '${database.apim-db.master_secret_arn}'
wso2::analytics_db_secret_arn: '${database.analytics-db.master_secret_arn}'
wso2::efs_dns_name: '${file_system.apim-shared.dns_name}'
wso2::lb::apim_public: '${load_balancer.apim-public.dns_name}'
wso2::lb::apim_internal: '${load_balancer.apim-internal.dns_name}'
wso2::lb::ei_services: '${load_balancer.ei-services.dns_name}'
wso2::lb::ei_internal: '${load_balancer.ei-internal.dns_name}'
wso2::lb::analytics_internal: '${load_balancer.analytics-internal.dns_name}'
HIERA

# The CA and the server's certificate, with the alternative names set above.
if [ ! -e /etc/puppetlabs/puppetserver/ca/ca_crt.pem ]; then
  /opt/puppetlabs/bin/puppetserver ca setup
fi
systemctl enable --now puppetserver
