module example.com/aws-node-fips

go 1.24
