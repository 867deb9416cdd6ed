"""``python -m bench``: sansws side by side with websockets, wsproto, aiohttp and picows."""

import sys

from .run import main

sys.exit(main())
