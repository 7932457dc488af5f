"""The console's browser tests: a package, so the platform and Chromium they share are
package-scoped (started once for all of them, stopped before the tests that follow)."""
