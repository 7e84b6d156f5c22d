DROP TABLE integration_deliveries;
