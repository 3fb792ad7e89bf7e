// The gpt2-complete command-line tool; commands arrive with the completion engine.
process.stderr.write('gpt2-complete: no commands yet\n');
process.exit(2);
