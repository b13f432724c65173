#!/usr/bin/env python3
"""Drop-in for the classic script: python neural_style_transfer.py --content_img_name X --style_img_name Y ..."""

import sys

from nst.cli import classic_main

if __name__ == "__main__":
    sys.exit(classic_main())
