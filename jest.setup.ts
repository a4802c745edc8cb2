// @peculiar/x509 relies on the Reflect metadata API at import time.
import 'reflect-metadata';
