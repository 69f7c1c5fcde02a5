"""Stratus: serverless trading execution, from signal to risk-checked exchange order."""
