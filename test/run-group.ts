import t from 'tap'

/**
 * Runs compiled test files one after another in this one process, as if each had its own: a file's
 * tests are tap's top-level tests, so a file's failure is reported under its own test names, with
 * the file and line of the failing assertion. A process costs about 2 s of CPU before its first
 * test (Node with tap's process tracker, importing the app, compiling the first app), which for
 * short files was more than their tests; test/engines.ts writes the groups and says which
 * files keep a process of their own.
 *
 * Each file is imported by a top-level test queued after the previous file's tests, so no file's
 * module code runs while another file's tests do.
 */
export function runInOneProcess (files: URL[]): void {
  const load = (i: number): void => {
    const file = files[i]
    if (file === undefined) return
    t.test(`load ${file.pathname.replace(/^.*\/dist-test\//, 'dist-test/')}`, async () => {
      await import(file.href)
      load(i + 1)
    })
  }
  load(0)
}
