// A task module that fails to load: pool_test.ts checks that tasks waiting for it reject.
throw new SyntaxError("this module is broken on purpose");
