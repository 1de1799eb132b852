#!/bin/bash
# User data of app: Puppet's packages for the image's operating system.
dnf install -y 'https://yum.puppet.com/puppet8-release-${node.os}.noarch.rpm'
