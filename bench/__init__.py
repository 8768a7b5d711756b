"Benchmarks of crm-kit on PostgreSQL: run them with `make bench`."
