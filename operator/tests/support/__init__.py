"""Test support for the operator, one module per concern: the CRD and admission (crd),
the task-service fakes and process (task_service), the Kubernetes emulator and a
kubectl-like client (kube), the operator process (operator), and bounded waiting."""
