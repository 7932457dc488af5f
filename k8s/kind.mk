# kind path: a local cluster with the whole platform (included by the root Makefile).
# Needs Docker, kind, kubectl, helm (v3.8+ or v4) and curl; run by .github/workflows/chart.yml.
KIND ?= kind
KUBECTL ?= kubectl
HELM ?= helm
DOCKER ?= docker
KIND_CLUSTER ?= taskplane
KIND_NAMESPACE ?= taskplane
KIND_RELEASE ?= taskplane
# Where kind-up applies the sample TaskQueue: any namespace works, nothing is copied there.
KIND_QUEUE_NAMESPACE ?= demo
IMAGE_TAG ?= dev
KIND_CHART := charts/taskplane
KIND_VALUES := k8s/values-dev.yaml
# Every image is the root Dockerfile built with the app's build args (directory, entry
# point, /healthz port, default arguments). The matrix of .github/workflows/images.yml
# is the same table (charts/tests/test_promtool_and_images.py compares them).
image_args = --build-arg APP_DIR=$(1) --build-arg "APP_ENTRYPOINT=$(2)" --build-arg APP_HEALTH_PORT=$(3) --build-arg "APP_ARGS=$(4)"
IMAGE_ARGS_task-service := $(call image_args,apps/task-service,python -m task_service,8003,serve)
IMAGE_ARGS_auth-service := $(call image_args,apps/auth-service,python -m auth_service,8001,serve)
IMAGE_ARGS_user-service := $(call image_args,apps/user-service,python -m user_service,8002,serve)
IMAGE_ARGS_notification-service := $(call image_args,apps/notification-service,python -m notification_service,8004,serve)
IMAGE_ARGS_console := $(call image_args,apps/console,python -m console_service,8005,serve)
IMAGE_ARGS_worker := $(call image_args,apps/worker,taskplane-worker,9100,--help)
IMAGE_ARGS_operator := $(call image_args,operator,python -m taskplane_operator,8080,)
KIND_IMAGES := $(patsubst IMAGE_ARGS_%,%,$(filter IMAGE_ARGS_%,$(.VARIABLES)))

export KIND_NAMESPACE KIND_RELEASE KIND_QUEUE_NAMESPACE

.PHONY: kind-up kind-images kind-test kind-down image-args

kind-up: ## kind: create the cluster, build and load the images, helm install, apply a sample TaskQueue (needs Docker)
	@$(KIND) get clusters 2>/dev/null | grep -qx '$(KIND_CLUSTER)' || \
		$(KIND) create cluster --name $(KIND_CLUSTER) --config k8s/kind/cluster.yaml --wait 180s
	$(MAKE) kind-images
	$(HELM) repo add prometheus-community https://prometheus-community.github.io/helm-charts --force-update
	$(HELM) repo add jaegertracing https://jaegertracing.github.io/helm-charts --force-update
	$(HELM) repo add open-telemetry https://open-telemetry.github.io/opentelemetry-helm-charts --force-update
	$(HELM) repo add grafana https://grafana.github.io/helm-charts --force-update
	$(HELM) dependency build $(KIND_CHART)
	$(KUBECTL) --context kind-$(KIND_CLUSTER) apply -f k8s/namespace.yaml
	$(HELM) upgrade --install $(KIND_RELEASE) $(KIND_CHART) --kube-context kind-$(KIND_CLUSTER) \
		-n $(KIND_NAMESPACE) -f $(KIND_VALUES) --wait --timeout 15m
	$(KUBECTL) --context kind-$(KIND_CLUSTER) create namespace $(KIND_QUEUE_NAMESPACE) --dry-run=client -o yaml \
		| $(KUBECTL) --context kind-$(KIND_CLUSTER) apply -f -
	$(KUBECTL) --context kind-$(KIND_CLUSTER) apply -n $(KIND_QUEUE_NAMESPACE) -f k8s/samples/taskqueue-noop.yaml

kind-images: ## kind: docker build every image from the root Dockerfile and load it into the cluster
	@set -e; for name in $(sort $(KIND_IMAGES)); do \
		echo "== taskplane/$$name:$(IMAGE_TAG)"; \
		eval "$(DOCKER) build -f Dockerfile -t taskplane/$$name:$(IMAGE_TAG) $$($(MAKE) -s image-args IMAGE=$$name) ."; \
		$(KIND) load docker-image taskplane/$$name:$(IMAGE_TAG) --name $(KIND_CLUSTER); \
	done

image-args: ## the docker build args of image IMAGE (e.g. make -s image-args IMAGE=task-service)
	@test -n '$(IMAGE_ARGS_$(IMAGE))' || { echo 'unknown IMAGE=$(IMAGE); one of: $(sort $(KIND_IMAGES))' >&2; exit 1; }
	@echo '$(IMAGE_ARGS_$(IMAGE))'

kind-test: ## kind: helm test (readyz + a task through the smoke queue), then the sample TaskQueues end to end
	$(HELM) test $(KIND_RELEASE) --kube-context kind-$(KIND_CLUSTER) -n $(KIND_NAMESPACE) --logs --timeout 10m
	bash k8s/kind/e2e.sh

kind-down: ## kind: delete the cluster
	$(KIND) delete cluster --name $(KIND_CLUSTER)
