import os
import sys


class Config:
    def __init__(self, name, path, verbose=False):
        self.name = name
        self.path = path
        self.verbose = verbose

    def exists(self):
        return os.path.exists(self.path)

    def is_dir(self):
        return os.path.isdir(self.


def main(argv):
    config = Config(argv[1], argv[2])
    if not config.exists():
        print("no such file: " + config.path, file=sys.stderr)
        return 1
    with open(config.path) as f:
        for line in f:
            print(line.rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
