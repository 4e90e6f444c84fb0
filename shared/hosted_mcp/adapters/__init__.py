"""Adapters implementing the ports: in-memory (tests), DynamoDB/CloudFormation/EventBridge (AWS)."""
