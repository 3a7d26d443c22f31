/**
 * The egress guard's address rule (RELIABILITY 84), as a pure function: only
 * plain public unicast addresses pass; every private, local and special range
 * is refused, in IPv4, IPv6 and the IPv6 forms that embed an IPv4 address.
 */
import { describe, expect, it } from 'vitest';
import { addressRefusal } from '../../src/steps/tools/http.ts';

describe('addressRefusal', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['224.0.0.1', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'broadcast'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link-local'],
    ['fd00:ec2::254', 'unique local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:a00:1', 'private'],
    ['64:ff9b::a9fe:a9fe', 'NAT64'],
  ])('refuses %s (%s)', (address, words) => {
    expect(addressRefusal(address)).toContain(words);
  });

  it.each(['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])('lets public %s through', (address) => {
    expect(addressRefusal(address)).toBeNull();
  });

  it('refuses what is not an address', () => {
    expect(addressRefusal('localhost')).toContain('not an IP address');
  });
});
