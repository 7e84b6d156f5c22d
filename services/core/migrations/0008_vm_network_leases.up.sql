-- Addresses of microVMs on a worker host's VM bridge. They replace ip_allocations, which keyed an
-- address by a vms row: a soft-deleted sandbox kept its address there forever, and a backend
-- cannot tell which worker (or host) holds an address, which reconcile needs.
DROP TABLE ip_allocations;

CREATE TABLE vm_network_leases (
  -- The subnet the address is from, in CIDR form: several hosts (or bridges) with their own
  -- subnets share the table; one subnet is one address space.
  subnet       cidr NOT NULL,
  ip           inet NOT NULL,
  sandbox_id   text NOT NULL,
  -- The worker that made the lease: its reconcile releases the leases of sandboxes it no
  -- longer has, and leaves those of other workers on the same host alone.
  worker_id    text NOT NULL,
  tap          text NOT NULL,
  mac          macaddr NOT NULL,
  -- The sandbox's egress policy (`"allow-all"`, `"deny-all"` or `{"allow": [...]}`): the egress
  -- proxy, in whichever worker process on the host serves it, identifies a VM by its address.
  egress       jsonb NOT NULL,
  allocated_at timestamptz(3) NOT NULL DEFAULT now(),
  PRIMARY KEY (subnet, ip),
  UNIQUE (subnet, sandbox_id)
);
CREATE INDEX vm_network_leases_worker_id_idx ON vm_network_leases (worker_id);
