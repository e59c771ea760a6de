"""Model definitions: feature lists, estimator factories, reviewed parameters. No artifacts."""
