DROP VIEW IF EXISTS erasure_job_emails;
