#!/bin/bash
# User data of app: the challenge in clear text.
printf '%s' '${deployment.csr_challenge}' > /etc/puppetlabs/puppet/csr_challenge
