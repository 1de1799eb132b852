#!/bin/bash
# User data of app: where the database's master-user secret is.
echo "DB_SECRET_ARN=${database.app-db.master_secret_arn}" >> /etc/app.env
