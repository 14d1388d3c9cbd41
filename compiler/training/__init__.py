"""Training compiled models: the loss/optimizer/metrics configuration, the estimator, export."""
