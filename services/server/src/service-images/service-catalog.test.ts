import { describe, expect, it } from "vitest";
import { serviceImportChanges } from "./build-service-image.js";
import {
  isServiceName,
  SERVICE_IMAGES,
  SERVICE_NAMES,
  serviceImageTag,
} from "./service-catalog.js";

describe("service images", () => {
  it("are tagged aetherium/<service>:<version>", () => {
    expect(serviceImageTag("gateway", "0.1.0")).toBe("aetherium/gateway:0.1.0");
    expect(SERVICE_NAMES).toEqual(["gateway", "worker", "postgres", "redis", "lb", "k8s-manager"]);
    expect(isServiceName("worker")).toBe(true);
    expect(isServiceName("dashboard")).toBe(false);
  });

  it("run as non-root users except the worker, which says why", () => {
    for (const name of SERVICE_NAMES) {
      const spec = SERVICE_IMAGES[name];
      if (name === "worker") {
        expect(spec.user).toBe("root");
        expect(spec.why).toMatch(/engine.*tmpfs.*iptables/s);
      } else {
        expect(spec.user).not.toBe("root");
      }
      expect(serviceImportChanges(name, "h")).toContain(`USER ${spec.user}`);
    }
  });

  it("start the server command with the service's subcommand", () => {
    const changes = serviceImportChanges("gateway", "abc");
    expect(changes).toContain(
      'ENTRYPOINT ["/usr/local/bin/node","/app/services/server/bin/aetherium.mjs"]',
    );
    expect(changes).toContain('CMD ["gateway"]');
    expect(changes).toContain("ENV AETHERIUM_HOME=/var/lib/aetherium");
    expect(changes.some((c) => c.startsWith("LABEL aetherium.service-input-hash=abc "))).toBe(true);
    expect(serviceImportChanges("worker", "abc")).toContain('CMD ["worker"]');
    // The manager's image starts its own entry, the one its Helm chart names.
    expect(serviceImportChanges("k8s-manager", "abc")).toContain(
      'ENTRYPOINT ["/usr/local/bin/node","/app/services/k8s-manager/dist/main.js"]',
    );
  });
});
