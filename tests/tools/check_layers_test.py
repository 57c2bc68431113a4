"""tools/check_layers.py on tiny C programs compiled with the real compiler.

Usage (meson runs it): check_layers_test.py CHECK_LAYERS_PY CC [CC ARGS...]
(the compiler command as meson has it: maybe ccache first)

Objects given on the command line:
  - two files calling each other (a function one way, a global variable
    the other): exit 1, one cycle naming both files and each edge's symbol;
  - a chain a -> b -> c: exit 0, "3 files", "2 edges", "no cycle";
  - a three-file ring plus a fourth file that only calls into it: one cycle
    of the three, the fourth not in it;
  - a cycle that crosses the --dir filter: not a cycle;
  - a file-local (static) function of the same name as another file's
    undefined symbol: no edge (the linker would not resolve it either);
  - two separate cycles: both printed, numbered;
  - nm missing: exit 77 (skip); an unreadable object: exit 2.
A meson project (a program and a static library of the same build):
  - the library's objects are found from the program's link statement:
    a cycle through the library is found with --dir '', and none with
    --dir src/ (only the program's own files);
  - an unknown target: exit 2.
Runs in a temporary directory under SLUICE_TEST_TMPDIR (or /tmp), removed
afterwards; every subprocess has a timeout.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

SCRIPT = None
CC = None


def run_check(*args, cwd=None):
    p = subprocess.run([sys.executable, SCRIPT, *args], cwd=cwd,
                       capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


class Objects(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(
            prefix="check_layers.", dir=os.environ.get("SLUICE_TEST_TMPDIR"))

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def compile(self, name, text):
        """Write name.c (name may hold a directory), compile name.o; return
        the object's path relative to self.dir."""
        src = os.path.join(self.dir, name + ".c")
        os.makedirs(os.path.dirname(src), exist_ok=True)
        with open(src, "w") as f:
            f.write(text)
        subprocess.run([*CC, "-c", "-O0", "-o", name + ".o", name + ".c"],
                       cwd=self.dir, check=True, timeout=60)
        return name + ".o"

    def check(self, *args):
        return run_check(*args, cwd=self.dir)

    def test_two_files_calling_each_other(self):
        a = self.compile("a", "int a_count;\n"
                              "void b_fn(void);\n"
                              "void a_fn(void) { b_fn(); }\n")
        b = self.compile("b", "extern int a_count;\n"
                              "void b_fn(void) { a_count++; }\n")
        rc, out, err = self.check("--dir", "", a, b)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("1 cycle", out)
        self.assertIn("cycle 1: 2 files: a.o b.o", out)
        self.assertIn("both ways: a.o <-> b.o", out)
        self.assertIn("a.o -> b.o: b_fn", out)
        self.assertIn("b.o -> a.o: a_count", out)

    def test_chain_has_no_cycle(self):
        a = self.compile("a", "void b_fn(void);\n"
                              "void a_fn(void) { b_fn(); }\n")
        b = self.compile("b", "void c_fn(void);\n"
                              "void b_fn(void) { c_fn(); }\n")
        c = self.compile("c", "int c_calls;\n"
                              "void c_fn(void) { c_calls++; }\n")
        rc, out, err = self.check("--dir", "", a, b, c)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("3 files", out)
        self.assertIn("2 edges", out)
        self.assertIn("no cycle", out)
        self.assertEqual(len(out.strip().splitlines()), 1, out)

    def test_three_file_ring(self):
        objs = [
            self.compile("r1", "void r2_fn(void);\n"
                               "void r1_fn(void) { r2_fn(); }\n"),
            self.compile("r2", "void r3_fn(void);\n"
                               "void r2_fn(void) { r3_fn(); }\n"),
            self.compile("r3", "void r1_fn(void);\n"
                               "void r3_fn(void) { r1_fn(); }\n"),
            self.compile("outside", "void r1_fn(void);\n"
                                    "int main(void) { r1_fn(); return 0; }\n"),
        ]
        rc, out, err = self.check("--dir", "", *objs)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("cycle 1: 3 files: r1.o r2.o r3.o", out)
        self.assertNotIn("outside.o ->", out)
        self.assertNotIn("both ways", out)
        self.assertIn("r3.o -> r1.o: r1_fn", out)

    def test_dir_filter(self):
        a = self.compile("x/a", "void b_fn(void);\n"
                                "void a_fn(void) { b_fn(); }\n")
        b = self.compile("y/b", "void a_fn(void);\n"
                                "void b_fn(void) { a_fn(); }\n")
        rc, out, err = self.check("--dir", "", a, b)
        self.assertEqual(rc, 1, out + err)
        rc, out, err = self.check("--dir", "x/", a, b)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("1 files under 'x/', 0 edges, no cycle", out)
        rc, out, err = self.check("--dir", "z/", a, b)
        self.assertEqual(rc, 2, out + err)

    def test_static_symbol_makes_no_edge(self):
        a = self.compile("a", "static int helper(void) { return 1; }\n"
                              "void b_fn(void);\n"
                              "int a_fn(void) { b_fn(); return helper(); }\n")
        b = self.compile("b", "int helper(void);\n"
                              "void b_fn(void) { helper(); }\n")
        rc, out, err = self.check("--dir", "", a, b)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("1 edges, no cycle", out)

    def test_two_cycles(self):
        objs = [
            self.compile("p", "void q_fn(void); void p_fn(void) { q_fn(); }\n"),
            self.compile("q", "void p_fn(void); void q_fn(void) { p_fn(); }\n"),
            self.compile("s", "void t_fn(void); void s_fn(void) { t_fn(); }\n"),
            self.compile("t", "void s_fn(void); void t_fn(void) { s_fn(); }\n"),
        ]
        rc, out, err = self.check("--dir", "", *objs)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("2 cycles", out)
        self.assertIn("cycle 1: 2 files: p.o q.o", out)
        self.assertIn("cycle 2: 2 files: s.o t.o", out)

    def test_nm_missing_and_bad_object(self):
        a = self.compile("a", "void a_fn(void) {}\n")
        rc, out, err = self.check("--dir", "", "--nm",
                                  "/nonexistent/nm", a)
        self.assertEqual(rc, 77, out + err)
        self.assertIn("nm", err)
        with open(os.path.join(self.dir, "junk.o"), "w") as f:
            f.write("not an object\n")
        rc, out, err = self.check("--dir", "", a, "junk.o")
        self.assertEqual(rc, 2, out + err)
        self.assertIn("junk.o", err)


class MesonBuild(unittest.TestCase):
    """A real meson build directory: program + static library."""

    @classmethod
    def setUpClass(cls):
        cls.meson = shutil.which("meson")
        if not cls.meson or not shutil.which("ninja"):
            raise unittest.SkipTest("meson or ninja not on PATH")
        cls.dir = tempfile.mkdtemp(
            prefix="check_layers.", dir=os.environ.get("SLUICE_TEST_TMPDIR"))
        files = {
            "meson.build": "project('p', 'c')\n"
                           "core = static_library('core', 'lib/core.c')\n"
                           "executable('prog', 'src/main.c', 'src/net.c',\n"
                           "  link_with : core)\n",
            # src/main.c -> lib/core.c -> src/main.c; src/main.c -> src/net.c
            "src/main.c": "void net_run(void); void core_init(void);\n"
                          "void prog_log(void) {}\n"
                          "int main(void) { core_init(); net_run();"
                          " return 0; }\n",
            "src/net.c": "void net_run(void) {}\n",
            "lib/core.c": "void prog_log(void);\n"
                          "void core_init(void) { prog_log(); }\n",
        }
        for name, text in files.items():
            path = os.path.join(cls.dir, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
        env = dict(os.environ, CC=" ".join(CC))
        for cmd in ([cls.meson, "setup", "build"],
                    [cls.meson, "compile", "-C", "build"]):
            p = subprocess.run(cmd, cwd=cls.dir, env=env, capture_output=True,
                               text=True, timeout=300)
            if p.returncode != 0:
                shutil.rmtree(cls.dir, ignore_errors=True)
                raise RuntimeError(" ".join(cmd) + " failed:\n" + p.stdout
                                   + p.stderr)
        cls.build = os.path.join(cls.dir, "build")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_static_library_objects_are_read(self):
        rc, out, err = run_check("--build", self.build, "--target", "prog",
                                 "--dir", "")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("prog: 3 files under ''", out)
        self.assertIn("cycle 1: 2 files: lib/core.c src/main.c", out)
        self.assertIn("lib/core.c -> src/main.c: prog_log", out)
        self.assertIn("src/main.c -> lib/core.c: core_init", out)

    def test_dir_filter_on_sources(self):
        rc, out, err = run_check("--build", self.build, "--target", "prog",
                                 "--dir", "src/")
        self.assertEqual(rc, 0, out + err)
        self.assertIn("2 files under 'src/', 1 edges, no cycle", out)

    def test_unknown_target(self):
        rc, out, err = run_check("--build", self.build, "--target", "nope")
        self.assertEqual(rc, 2, out + err)
        self.assertIn("no link statement for target 'nope'", err)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        print("usage: check_layers_test.py CHECK_LAYERS_PY CC [CC ARGS...]",
              file=sys.stderr)
        sys.exit(2)
    SCRIPT, CC = os.path.abspath(sys.argv[1]), sys.argv[2:]
    if not shutil.which(CC[0]):
        print(f"skipped: C compiler {CC[0]} not found", file=sys.stderr)
        sys.exit(77)
    unittest.main(argv=sys.argv[:1], verbosity=2)
