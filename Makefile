.PHONY: run test

# Run the platform on this machine (SQLite, local uploads, filesystem queue, one worker).
run:
	scripts/run

# Install what the tests need and run them on SQLite and PostgreSQL.
test:
	scripts/test
