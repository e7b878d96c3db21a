module fipscheck.example/cni-fips

go 1.24
