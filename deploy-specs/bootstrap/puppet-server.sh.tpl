#!/bin/bash
# User data of the Puppet server of deployment ${deployment.name}, rendered by strato.
# It installs Puppet Server, writes the Hiera data the WSO2 modules read (database
# endpoints, the EFS file system, the load balancers) and turns on CSR-challenge
# autosigning: an agent is signed only if its CSR carries this deployment's challenge.
# strato renders `${...}` references with dots; plain shell `${VAR}` is left alone.
set -euo pipefail
exec > >(tee -a /var/log/strato-bootstrap.log) 2>&1

readonly CHALLENGE='${deployment.csr_challenge}'
readonly CODE_DIR=/etc/puppetlabs/code/environments/production

dnf install -y https://yum.puppet.com/puppet8-release-el-9.noarch.rpm
dnf install -y puppetserver openssl
/opt/puppetlabs/bin/puppet config set --section server autosign /etc/puppetlabs/puppet/autosign.sh
/opt/puppetlabs/bin/puppet config set --section main server '${instance.puppet.private_ip}'

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
umask 077
printf '%s' "$CHALLENGE" > /etc/puppetlabs/puppet/csr_challenge
chown puppet:puppet /etc/puppetlabs/puppet/csr_challenge

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

systemctl enable --now puppetserver
