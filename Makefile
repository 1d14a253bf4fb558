# Tally: build, install, test and demo.
#
#   make            build everything
#   make install    the extension into the PostgreSQL that pg_config names
#   make check      install missing packages, build, run every test suite
#   make demo       install missing packages, start a local analytics cluster

PG_CONFIG ?= pg_config

.PHONY: all install check demo demo-stop setup clean

all:
	$(MAKE) -C ext PG_CONFIG=$(PG_CONFIG)

install: all
	$(MAKE) -C ext install PG_CONFIG=$(PG_CONFIG)

setup:
	scripts/setup

check: setup
	$(MAKE) all
	tests/harness/check

demo: setup
	$(MAKE) all
	scripts/demo

demo-stop:
	scripts/demo stop

clean:
	$(MAKE) -C ext clean
