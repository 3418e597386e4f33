# Two commands for a fresh machine: `make demo` and `make test`. Everything else is set-up they share.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
JARS   := .cache/jars
# Delta for Spark 4.1, Scala 2.13: must match delta-spark / pyspark in requirements.lock.
DELTA_ARTIFACT := io.delta:delta-spark_4.1_2.13:4.3.1
PERSONS ?= 100000
SEED    ?= 2560

.PHONY: demo test setup venv jars s3jars hdfs authz ldap serviceuser browser key dist check lint bench clean

demo: venv jars key
	$(VENV)/bin/pooling demo --persons $(PERSONS) --seed $(SEED)

# Tests make their own keys and data under temporary folders. The default run leaves out the
# tests marked slow (the whole job on HDFS, S3 and a standalone cluster; jobs killed mid-write)
# and whole_job (the tests on the shared demo's output, the SQL endpoint and console among them):
# `make test SUITE=full` runs every test, as CI does (.ci/run). The thirty slowest are listed at
# the end, so a slow run (CI has 90 minutes) says where its time went.
SUITE ?= default
test: venv jars s3jars hdfs authz ldap serviceuser browser
	$(VENV)/bin/pytest -q --durations=30 $(if $(filter full,$(SUITE)),,-m "not slow and not whole_job")

setup: venv jars authz ldap serviceuser key

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# Delta's jars from Maven Central into a local folder; after this a session needs no network.
jars: $(JARS)/.fetched
$(JARS)/.fetched: build/delta-jars.pom.xml
	mvn -B -q -f build/delta-jars.pom.xml dependency:copy-dependencies \
	    -DincludeScope=runtime -DoutputDirectory=$(abspath $(JARS))
	touch $@

# Hadoop's S3A connector (hadoop-aws + the AWS SDK bundle, ~600 MB) for zones on s3a://.
s3jars: .cache/jars-s3/.fetched
.cache/jars-s3/.fetched: build/s3-jars.pom.xml
	mvn -B -q -f build/s3-jars.pom.xml dependency:copy-dependencies \
	    -DincludeScope=runtime -DoutputDirectory=$(abspath .cache/jars-s3)
	touch $@

# Hadoop's MiniDFSCluster: the tests start a real HDFS with it, in a JVM of its own.
hdfs: .cache/hdfs/.fetched
.cache/hdfs/.fetched: build/hdfs-test.pom.xml
	mvn -B -q -f build/hdfs-test.pom.xml dependency:copy-dependencies \
	    -DincludeScope=runtime -DoutputDirectory=$(abspath .cache/hdfs)
	touch $@

# The analysts' access rule (a Spark session extension), compiled against the installed PySpark.
AUTHZ_DIR := build/authz/src/pooling/authz
AUTHZ_SRC := $(wildcard $(AUTHZ_DIR)/*.java) $(AUTHZ_DIR)/allowed.txt
authz: .cache/authz/pooling-authz.jar
.cache/authz/pooling-authz.jar: $(AUTHZ_SRC) $(VENV)/.installed
	rm -rf .cache/authz && mkdir -p .cache/authz/classes
	javac --release 17 -nowarn -d .cache/authz/classes \
	    -cp "$$($(PY) -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')/jars/*" \
	    $(filter %.java,$(AUTHZ_SRC))
	cp $(AUTHZ_DIR)/allowed.txt .cache/authz/classes/pooling/authz/
	jar cf $@ -C .cache/authz/classes .

# OpenLDAP from Debian's packages, unpacked into .cache (no root install): the tests start a
# throwaway directory server with it to authenticate analysts.
LDAP_DEBS := slapd ldap-utils libltdl7 libwrap0
ldap: .cache/ldap/.fetched
.cache/ldap/.fetched:
	rm -rf .cache/ldap && mkdir -p .cache/ldap/debs
	cd .cache/ldap/debs && (apt-get download $(LDAP_DEBS) || \
	    (apt-get update -qq && apt-get download $(LDAP_DEBS)))
	for f in .cache/ldap/debs/*.deb; do dpkg -x $$f .cache/ldap/root; done
	touch $@

# The SQL endpoint's unprivileged OS user (root only; see build/serviceuser.sh).
SERVICE_USER := $(shell sed -n 's/^service_user: *//p' conf/access.yaml)
serviceuser: venv
	build/serviceuser.sh $(SERVICE_USER) $(CURDIR) $$($(PY) -c 'import sys; print(sys.base_prefix)')

# Debian's chromium and chromium-driver for the review console's browser tests (root: apt).
browser:
	build/browser.sh

# A local master key for the demo, mode 0600, never committed (.keys/ is git-ignored).
key: .keys/master.key
.keys/master.key: | venv
	$(VENV)/bin/pooling keys new --out $@

# The code as one zip for `spark-submit --py-files` (see "Running on a cluster" in the README).
dist: dist/pooling.zip
dist/pooling.zip: $(shell git ls-files pooling pseudonymize projects)
	$(PYTHON) build/ship.py $@

check: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: setup
	$(VENV)/bin/pooling bench pseudonymize --rows 10000000

clean:
	rm -rf data spark-warehouse .pytest_cache
