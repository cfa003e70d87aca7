DROP TABLE IF EXISTS relay_control;
