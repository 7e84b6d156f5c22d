DROP TABLE vm_network_leases;

CREATE TABLE ip_allocations (
  network      text NOT NULL,
  ip           inet NOT NULL,
  vm_id        uuid REFERENCES vms (id) ON DELETE CASCADE,
  allocated_at timestamptz(3) NOT NULL DEFAULT now(),
  PRIMARY KEY (network, ip)
);
CREATE UNIQUE INDEX ip_allocations_network_vm_id_key ON ip_allocations (network, vm_id)
  WHERE vm_id IS NOT NULL;
