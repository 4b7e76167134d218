"""The test suite (a package, so that ``tests`` is this folder even beside an installed
package of that name: pywb, in the replay extra, ships one)."""
