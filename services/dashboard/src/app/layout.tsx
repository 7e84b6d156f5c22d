import type { Metadata, Viewport } from "next";
import type { ReactNode } from "react";
import "./globals.css";
import { AppShell } from "../components/app-shell.js";
import { Providers } from "../components/providers.js";
import { THEME_BOOT_SCRIPT } from "../lib/theme.js";

export const metadata: Metadata = {
  title: "Aetherium",
  description: "Sandboxes for commands, developer tools and AI coding agents.",
};

export const viewport: Viewport = { width: "device-width", initialScale: 1 };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en" suppressHydrationWarning>
      <head>
        <script dangerouslySetInnerHTML={{ __html: THEME_BOOT_SCRIPT }} />
      </head>
      <body>
        <Providers>
          <AppShell>{children}</AppShell>
        </Providers>
      </body>
    </html>
  );
}
