#!/bin/bash
# User data of app and worker: the challenge read at boot with the instance's role.
umask 077
aws ssm get-parameter --with-decryption --name '${deployment.csr_challenge_parameter}' \
  --region '${deployment.region}' --query Parameter.Value --output text > /root/csr_challenge
