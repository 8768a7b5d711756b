# crm-kit: `make run` serves the CRM on http://localhost:8000,
# `make test` runs the whole test suite.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
SAO_VERSION = 8.0
SAO = var/sao
# The REST API's fuzzer (tests/test_api_fuzz.py), in an environment of its
# own: its dependencies are not crm-kit's.
SCHEMATHESIS_VERSION = 4.32.5
FUZZ = var/fuzz
# The linter (make lint): pyflakes' errors and syntax errors, through
# flake8 for its "# noqa" on re-exports.
FLAKE8_VERSION = 7.5.0
LINTED = crm_kit* crmkit tests bench scripts conftest.py
# The REST API's reference page (crm_kit_api), served from sao's folder.
SWAGGER_UI_VERSION = 5.35.0
API_DOCS = $(SAO)/api-docs

.PHONY: run install install-fuzz sao pdf-libs mail-server lint test test-fast test-sqlite test-postgresql bench clean

run: install sao pdf-libs
	$(BIN)/crm-kit init
	$(BIN)/crm-kit demo
	$(BIN)/crm-kit serve

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,evidence]'
	touch $@

# The quote's PDF (WeasyPrint) needs Pango and HarfBuzz from the system,
# and a font: installed with apt-get when missing and make runs as root,
# else said how.
PDF_PACKAGES = libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core
pdf-libs: install
	@$(BIN)/python -c 'import weasyprint' 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get install -y -qq $(PDF_PACKAGES) >/dev/null; \
	  else \
	    echo "Quotes need Pango for their PDF: sudo apt-get install $(PDF_PACKAGES)" \
	      "(or your system's Pango >= 1.44 and a font)."; \
	  fi; }

# The e-mail tests' IMAP server (crm_kit_email/tests/mailservers.py runs
# its own Dovecot): installed with apt-get when missing and make runs as
# root, else said how.
mail-server:
	@test -x /usr/sbin/dovecot || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd >/dev/null; \
	  else \
	    echo "The e-mail tests need Dovecot: sudo apt-get install dovecot-imapd"; \
	  fi; }

install-fuzz: $(FUZZ)/.installed

$(FUZZ)/.installed: Makefile
	$(PYTHON) -m venv $(FUZZ)
	$(FUZZ)/bin/pip install --quiet 'schemathesis==$(SCHEMATHESIS_VERSION)'
	touch $@

sao: $(SAO)/index.html $(SAO)/custom.css $(SAO)/custom.js $(API_DOCS)/swagger-ui-bundle.js

$(SAO)/index.html:
	rm -rf var/sao-build $(SAO)
	mkdir -p var/sao-build
	cd var/sao-build && npm pack --silent tryton-sao@$(SAO_VERSION) && tar xzf tryton-sao-*.tgz
	cd var/sao-build/package && npm install --omit=dev --legacy-peer-deps --no-audit --no-fund --silent
	mv var/sao-build/package $(SAO)
	rm -rf var/sao-build

$(API_DOCS)/swagger-ui-bundle.js: $(SAO)/index.html
	rm -rf var/api-docs-build $(API_DOCS)
	mkdir -p var/api-docs-build $(API_DOCS)
	cd var/api-docs-build && npm pack --silent swagger-ui-dist@$(SWAGGER_UI_VERSION) && tar xzf swagger-ui-dist-*.tgz
	cp var/api-docs-build/package/swagger-ui.css var/api-docs-build/package/swagger-ui-bundle.js var/api-docs-build/package/LICENSE $(API_DOCS)/
	rm -rf var/api-docs-build

# crm-kit's styles, through sao's extension hook
$(SAO)/custom.css: crmkit/sao/custom.css $(SAO)/index.html
	cp crmkit/sao/custom.css $@

# The pipeline board and crm-kit's name, through sao's script hook
$(SAO)/custom.js: crmkit/sao/custom.js $(SAO)/index.html
	cp crmkit/sao/custom.js $@

lint: $(VENV)/.lint-$(FLAKE8_VERSION)
	$(BIN)/flake8 $(LINTED)

$(VENV)/.lint-$(FLAKE8_VERSION): $(VENV)/.installed
	$(BIN)/pip install --quiet 'flake8==$(FLAKE8_VERSION)'
	touch $@

# The suite runs on SQLite unless TRYTOND_DATABASE__URI names a server;
# conftest.py keeps the activated test databases (var/test-cache on SQLite,
# template databases on PostgreSQL).
test: install sao install-fuzz mail-server
	CRM_KIT_SAO=$(CURDIR)/$(SAO) $(BIN)/python -m pytest $(PYTEST_ARGS)

# The modules' own tests: no server, no browser, no demo.
test-fast: install mail-server
	$(BIN)/python -m pytest $(PYTEST_ARGS) crm_kit*/tests

test-sqlite:
	TRYTOND_DATABASE__URI=sqlite:// $(MAKE) test

test-postgresql:
	TRYTOND_DATABASE__URI=postgresql://postgres@127.0.0.1:5432/ $(MAKE) test

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf var/test-cache var/sao-build var/api-docs-build $(FUZZ)
