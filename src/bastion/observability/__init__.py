"""What a running gateway tells its operators: Prometheus metrics (``GET /metrics``)."""

from bastion.observability.metrics import (
    CONTENT_TYPE,
    DURATION_BUCKETS,
    GatewayMetrics,
    code_label,
    route_label,
)

__all__ = ["CONTENT_TYPE", "DURATION_BUCKETS", "GatewayMetrics", "code_label", "route_label"]
