"""scikit-learn style estimators over Lightning: TitansForecaster, TitansSequenceClassifier."""
