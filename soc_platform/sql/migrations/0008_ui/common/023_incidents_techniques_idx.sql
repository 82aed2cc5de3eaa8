-- Searches filtered by ATT&CK technique (technique:...; attack_techniques && ...).
CREATE INDEX IF NOT EXISTS incidents_attack_techniques_idx ON incidents USING gin (attack_techniques)
