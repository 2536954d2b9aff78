# Convenience targets around CMake. `make run` and `make test` are the two
# commands the README starts with.
PREFIX ?= $(if $(filter 0,$(shell id -u)),/usr/local,$(HOME)/.local)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
JOBS := $(shell nproc)

# Debian packages: build, run, test.
DEPS := cmake make gcc pkg-config libzmq3-dev libjansson-dev libssl-dev uuid-dev uthash-dev \
	libinih-dev libsystemd-dev libsqlite3-dev systemd util-linux valgrind \
	clang-14 libfuzzer-14-dev libclang-rt-14-dev \
	libpython3.11-dev check python3-jupyter-client python3-zmq python3-ipykernel \
	python3-jupyter-kernel-test python3-nbclient python3-nbformat python3-pytest \
	python3-matplotlib python3-numpy python3-ipywidgets python3-comm python3-jedi \
	python3-ipython jupyter-console

.PHONY: deps build install run test bench clean

deps:
	@missing=$$(for p in $(DEPS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages: $$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: deps
	cmake -S . -B build -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	cmake --build build -j$(JOBS)

USER_FLAG := $(if $(filter 0,$(shell id -u)),,--user)

install: build
	cmake --install build >/dev/null
	$(PREFIX)/bin/akernel-gateway install $(USER_FLAG)
	$(PREFIX)/bin/akernel-gateway install --attach $(USER_FLAG)

# The shared service on its defaults; notebooks reach it through the
# akernel-service kernelspec.
run: install
	@echo "akernel-gateway: starting the service. Open a notebook with the kernel"
	@echo "'Python 3 (akernel-gateway service)' in JupyterLab, or in a terminal:"
	@echo "    jupyter console --kernel akernel-service"
	$(PREFIX)/bin/akernel-gateway serve

test: deps
	tests/run.sh

bench: build
	/usr/bin/python3 bench/bench_kernel.py --build build

clean:
	rm -rf build build-asan
